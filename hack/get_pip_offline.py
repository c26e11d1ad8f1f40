"""Offline stand-in for the get-pip bootstrap script that ansible-test downloads.

ansible-test builds the virtual environments of some sanity tests with a get-pip script it
fetches from the internet, unless a cached copy exists under ~/.ansible/test/cache/. This
stand-in is installed there by hack/setup.sh: it bootstraps pip with the standard library's
ensurepip, then upgrades to the requested pip from the machine's configured package index.

PIP_CONFIG_FILE and ENSUREPIP_OPTIONS are removed from the environment of the second step:
ensurepip sets PIP_CONFIG_FILE=/dev/null, which would hide the machine's pip configuration
(index and CA certificate).
"""
import os
import subprocess
import sys

GET_PIP_ONLY_OPTIONS = {'--no-setuptools', '--no-wheel'}


def main():
    args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY_OPTIONS]
    env = dict(os.environ)
    env.pop('PIP_CONFIG_FILE', None)
    env.pop('ENSUREPIP_OPTIONS', None)
    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'], env=env,
                          stdout=subprocess.DEVNULL)
    subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--upgrade'] + args, env=env)


if __name__ == '__main__':
    main()
