"""`make verify`: does the lab's cloud work? A smoke run with the OpenStack SDK against the stack's own
`cloudsYaml`: one line per check with its time, a non-zero exit on any failure, and everything it creates
(named `<prefix>-verify-...`) removed at the end, after a failure or an interrupt too.

Modules: cli (the entry: stack, connection, signals), stack (the stack's outputs and config through the
Pulumi CLI), expectations (what the checks expect, from the plan and the outputs), cloud (the SDK connection
from clouds.yaml text, held in memory), context (what a check gets), steps (the checks in order, per mode),
runner (times, prints, skips dependants), session (a whole run with its clean-up), cleanup (what a run made,
and the sweep of an earlier run's leftovers), waits (bounded waits that name what they wait for), guest
(ping and SSH from this host), checks/ (one module per service area).
"""
