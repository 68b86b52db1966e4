# Debian's puppet-module-ovn 25.0.0 ships only manifests/; ovn::controller types its $ovn_bridge_mappings with this
# alias. The project's own one-line definition of the interface puppet-ovn documents for it (a string, a list
# of "physnet:bridge" strings, or a physnet => bridge hash; puppet-ovn stable/2025.1 types/bridgemappings.pp).
type Ovn::BridgeMappings = Variant[String, Array[String[1]], Hash[String[1], String[1]]]
