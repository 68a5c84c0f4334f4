"""The floor: what any Python KRM function pays at least: load and dump the ResourceList with PyYAML's C code."""

import sys

import yaml

with open(sys.argv[1]) as source:
    data = yaml.load(source, Loader=yaml.CSafeLoader)
sys.stdout.write(yaml.dump(data, Dumper=yaml.CSafeDumper, sort_keys=False))
