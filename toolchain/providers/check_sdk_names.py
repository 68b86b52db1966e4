#!/usr/bin/env python3
"""Check that a bridged provider's Pulumi schema matches what a generated Python SDK sends.

Usage: check_sdk_names.py SDK_PACKAGE_DIR SCHEMA_JSON
  SDK_PACKAGE_DIR  e.g. .venv/lib/python3.11/site-packages/pulumi_openstack
  SCHEMA_JSON      e.g. .tools/build/plugin-openstack/schema/schema.json
                   (written by toolchain/build-plugin.sh, kept by setup.sh)

Compares resource and invoke tokens, input/output property names and their shape
(scalar/list/map), nested type property names, provider config keys and required inputs.
Properties that exist only in the schema (a newer upstream) are reported as info; anything
the SDK sends that the schema lacks is an error. Exit status 1 on errors.
"""
import ast
import json
import os
import re
import sys


def _shape_of_ann(ann):
    t = (ast.unparse(ann) if ann is not None else '').strip("'")
    changed = True
    while changed:
        changed = False
        for w in ('Optional[', 'pulumi.Input[', 'pulumi.Output['):
            if t.startswith(w):
                t = t[len(w):-1].strip("'")
                changed = True
    if t.startswith('Sequence['):
        return 'list'
    if t.startswith('Mapping['):
        return 'map'
    return 'scalar'


def _getters(cls):
    out = {}
    for node in cls.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for d in node.decorator_list:
            if isinstance(d, ast.Call) and ast.unparse(d.func) == 'pulumi.getter':
                name = next((k.value.value for k in d.keywords if k.arg == 'name'), node.name)
                out[name] = (_shape_of_ann(node.returns), node.name)
            elif ast.unparse(d) == 'pulumi.getter':
                out[node.name] = (_shape_of_ann(node.returns), node.name)
    return out


def extract_sdk(root):
    res = {'resources': {}, 'functions': {}, 'types': {}, 'config': set(), 'provider': {}}
    for dp, _, fns in os.walk(root):
        for f in fns:
            if not f.endswith('.py'):
                continue
            p = os.path.join(dp, f)
            src = open(p, encoding='utf-8').read()
            tree = ast.parse(src)
            rel = os.path.relpath(p, root)
            classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
            if rel == os.path.join('config', 'vars.py'):
                res['config'] = set(re.findall(r"__config__\.get(?:_bool|_int|_float|_object)?\('(\w+)'\)", src))
                continue
            if f in ('_inputs.py', 'outputs.py'):
                for cn, c in classes.items():
                    g = _getters(c)
                    if g:
                        res['types'][os.path.dirname(rel) + ':' + cn] = g
                continue
            if rel == 'provider.py' and 'ProviderArgs' in classes:
                res['provider'] = _getters(classes['ProviderArgs'])
                continue
            for cn, c in classes.items():
                for node in ast.walk(c):
                    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                            and node.func.attr == '__init__' and node.args
                            and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
                            and node.args[0].value.count(':') == 2):
                        args = classes.get(cn + 'Args')
                        req_py = set(re.findall(r"Missing required property '(\w+)'", src))
                        ins = _getters(args) if args else {}
                        by_py = {v[1]: k for k, v in ins.items()}
                        res['resources'][node.args[0].value] = {
                            'inputs': ins, 'outputs': _getters(c),
                            'required': {by_py.get(x, by_py.get(x.rstrip('_'), x)) for x in req_py}}
            for fd in tree.body:
                if not isinstance(fd, ast.FunctionDef):
                    continue
                for node in ast.walk(fd):
                    if isinstance(node, ast.Call) and ast.unparse(node.func) == 'pulumi.runtime.invoke':
                        keys = set()
                        for n in ast.walk(fd):
                            if (isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Subscript)
                                    and ast.unparse(n.targets[0].value) == '__args__'):
                                keys.add(n.targets[0].slice.value)
                        result = next((c for cn, c in classes.items()
                                       if cn.endswith('Result') and not cn.startswith('Awaitable')), None)
                        res['functions'][node.args[0].value] = {
                            'inputs': keys, 'outputs': _getters(result) if result else {}}
    return res


def _schema_shape(p):
    if p.get('type') == 'array':
        return 'list'
    if p.get('type') == 'object' and 'additionalProperties' in p:
        return 'map'
    return 'scalar'


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    sdk = extract_sdk(sys.argv[1])
    sch = json.load(open(sys.argv[2], encoding='utf-8'))
    errors, infos = [], []

    def cmp(label, sdk_props, schema_props):
        for k in sorted(set(sdk_props) | set(schema_props)):
            if k in ('id', 'urn') and k not in schema_props:
                continue
            if k not in schema_props:
                errors.append('%s: SDK property %r missing from schema' % (label, k))
            elif k not in sdk_props:
                infos.append('%s: schema-only property %r (unused by the SDK)' % (label, k))
            elif sdk_props[k][0] != _schema_shape(schema_props[k]):
                errors.append('%s: %r is %s in the SDK but %s in the schema'
                              % (label, k, sdk_props[k][0], _schema_shape(schema_props[k])))

    for tok, r in sorted(sdk['resources'].items()):
        sr = sch.get('resources', {}).get(tok)
        if sr is None:
            errors.append('resource %s missing from schema' % tok)
            continue
        cmp(tok + ' inputs', r['inputs'], sr.get('inputProperties', {}))
        cmp(tok + ' outputs', r['outputs'], sr.get('properties', {}))
        sreq = set(sr.get('requiredInputs', []))
        if r['required'] != sreq:
            errors.append('%s: required inputs differ: SDK-only %s schema-only %s'
                          % (tok, sorted(r['required'] - sreq), sorted(sreq - r['required'])))
    for tok, f in sorted(sdk['functions'].items()):
        sf = sch.get('functions', {}).get(tok)
        if sf is None:
            errors.append('function %s missing from schema' % tok)
            continue
        ins = set(sf.get('inputs', {}).get('properties', {}))
        if f['inputs'] - ins:
            errors.append('%s: SDK inputs missing from schema: %s' % (tok, sorted(f['inputs'] - ins)))
        cmp(tok + ' outputs', f['outputs'], sf.get('outputs', {}).get('properties', {}))
    stypes = {}
    for tok, t in sch.get('types', {}).items():
        stypes.setdefault(tok.split(':')[-1].lower(), []).append(t.get('properties', {}))
    for key, props in sorted(sdk['types'].items()):
        base = key.split(':')[1]
        base = base[:-4] if base.endswith('Args') else base
        if base.startswith('Get') and base.endswith('Result'):
            base = base[:-6]
        cands = stypes.get(base.lower())
        if not cands:
            errors.append('no schema type for SDK class %s' % key)
            continue
        best = min(cands, key=lambda p: len(set(props) ^ set(p)))
        cmp('type ' + key, props, best)
    cfg = set(sch.get('config', {}).get('variables', {}))
    if sdk['config'] != cfg:
        errors.append('config keys differ: SDK-only %s schema-only %s'
                      % (sorted(sdk['config'] - cfg), sorted(cfg - sdk['config'])))
    cmp('provider inputs', sdk['provider'], sch.get('provider', {}).get('inputProperties', {}))
    for line in infos:
        print('info:', line)
    for line in errors:
        print('ERROR:', line)
    print('%s: %d resources, %d functions, %d types checked; %d errors, %d infos'
          % (sch.get('name'), len(sdk['resources']), len(sdk['functions']), len(sdk['types']),
             len(errors), len(infos)))
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
