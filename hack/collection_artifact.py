"""Make a collection artifact (the tarball `ansible-galaxy collection build` makes) of an installed collection.

usage: collection_artifact.py INSTALLED_COLLECTION_DIR OUT.tar.gz

The copies in PyPI's `ansible` package (what .collections/ holds) keep the FILES.json of their release but
leave files out (CI configuration, tests), so `ansible-galaxy collection install` of a plain tar of them
fails ("Unable to extract '.azure-pipelines'"). This lists the files that are there in a new FILES.json,
points MANIFEST.json at it, and writes a reproducible tarball. hack/ee.sh uses it for the dependencies of the
execution environment (Galaxy is not reachable here).
"""
import hashlib
import io
import json
import os
import sys
import tarfile


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def main(src, out):
    entries = [{'name': '.', 'ftype': 'dir', 'chksum_type': None, 'chksum_sha256': None, 'format': 1}]
    payload = []
    for root, dirs, files in os.walk(src):
        dirs.sort()
        rel_root = os.path.relpath(root, src)
        for name in dirs:
            rel = os.path.normpath(os.path.join(rel_root, name))
            entries.append({'name': rel, 'ftype': 'dir', 'chksum_type': None, 'chksum_sha256': None, 'format': 1})
            payload.append((rel, None))
        for name in sorted(files):
            rel = os.path.normpath(os.path.join(rel_root, name))
            if rel in ('MANIFEST.json', 'FILES.json') or name.endswith('.pyc'):
                continue
            with open(os.path.join(root, name), 'rb') as handle:
                data = handle.read()
            entries.append({'name': rel, 'ftype': 'file', 'chksum_type': 'sha256', 'chksum_sha256': sha256(data),
                            'format': 1})
            payload.append((rel, data))
    files_json = json.dumps({'files': entries, 'format': 1}, indent=1).encode()
    with open(os.path.join(src, 'MANIFEST.json'), 'rb') as handle:
        manifest = json.load(handle)
    manifest['file_manifest_file']['chksum_sha256'] = sha256(files_json)
    manifest_json = json.dumps(manifest, indent=1).encode()

    with tarfile.open(out, 'w:gz', format=tarfile.PAX_FORMAT) as tar:
        for name, data in [('MANIFEST.json', manifest_json), ('FILES.json', files_json)] + payload:
            info = tarfile.TarInfo(name)
            info.mtime = 946684800
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
