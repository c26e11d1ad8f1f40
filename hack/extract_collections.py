"""Extract the pinned collections listed in requirements/collections.txt from PyPI's `ansible` wheel.

usage: extract_collections.py WHEEL COLLECTIONS_TXT DEST_ANSIBLE_COLLECTIONS_DIR
Fails when a collection is missing from the wheel or its version differs from the pin.
"""
import json
import sys
import zipfile


def main(wheel, listing, dest):
    wanted = {}
    with open(listing) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line or line.startswith('ansible=='):
                continue
            name, version = line.split('==')
            wanted[name.strip()] = version.strip()
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        for fqcn, version in sorted(wanted.items()):
            prefix = 'ansible_collections/%s/' % fqcn.replace('.', '/')
            manifest = json.loads(z.read(prefix + 'MANIFEST.json'))
            found = manifest['collection_info']['version']
            if found != version:
                sys.exit('%s: pinned %s, the wheel has %s' % (fqcn, version, found))
            members = [n for n in names if n.startswith(prefix)]
            for member in members:
                z.extract(member, dest.rsplit('/ansible_collections', 1)[0])
            print('extracted %s %s (%d files)' % (fqcn, version, len(members)))


if __name__ == '__main__':
    main(*sys.argv[1:4])
