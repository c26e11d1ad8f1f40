"""The lab's agent packages: the rpm (build_rpm.sh) carries the deb's payload (build_deb.sh) and its maintainer
scripts, under Trend's rpm name and file name (tests/lab/EVIDENCE.md E15, E25).

Needs dpkg-deb and rpmbuild (tests/lab/setup.sh installs them); no lab, no root.
"""
import hashlib
import os
import re
import shutil
import subprocess

import pytest

LAB_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AGENT = os.path.join(LAB_DIR, "agent")

pytestmark = pytest.mark.skipif(not (shutil.which("rpmbuild") and shutil.which("dpkg-deb")),
                                reason="needs rpmbuild (Debian package rpm) and dpkg-deb")


def build(script, version):
    p = subprocess.run(["bash", os.path.join(AGENT, script)], env=dict(os.environ, DSA_AGENT_VERSION=version),
                       capture_output=True, text=True, check=False, timeout=300)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip().splitlines()[-1]


def deb_payload(deb, tmp_path):
    root = tmp_path / "deb"
    subprocess.run(["dpkg-deb", "-x", deb, str(root)], check=True)
    files = {}
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            rel = "/" + os.path.relpath(path, root)
            rel = re.sub(r"^/lib/systemd/", "/usr/lib/systemd/", rel)   # merged /usr: the same file
            with open(path, "rb") as f:
                files[rel] = (oct(os.stat(path).st_mode & 0o7777), hashlib.sha256(f.read()).hexdigest())
    return files


def rpm_query(rpm, fmt):
    return subprocess.run(["rpm", "-qp", "--qf", fmt, rpm], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("version", ["20.0.0.7303", "10.0.0.2775"])
def test_rpm_has_the_deb_payload(version, tmp_path):
    deb, rpm = build("build_deb.sh", version), build("build_rpm.sh", version)
    x, y, z, build_no = version.split(".")
    assert os.path.basename(rpm) == "ds_agent-%s.%s.%s-%s.x86_64.rpm" % (x, y, z, build_no)
    assert rpm_query(rpm, "%{NAME} %{VERSION}-%{RELEASE} %{ARCH}") == "ds_agent %s.%s.%s-%s x86_64" % (x, y, z, build_no)
    files = {}
    for line in rpm_query(rpm, "[%{FILENAMES}\t%{FILEMODES}\t%{FILEDIGESTS}\n]").splitlines():
        name, mode, digest = line.split("\t")
        if digest:                                   # directories have no digest
            files[name] = (oct(int(mode) & 0o7777), digest)
    assert files == deb_payload(deb, tmp_path)
    dirs = rpm_query(rpm, "[%{FILENAMES} %{FILEMODES:perms}\n]")
    assert "/var/opt/ds_agent/dsa_core drwx------" in dirs.splitlines()


def test_rpm_runs_the_deb_maintainer_scripts():
    rpm = build("build_rpm.sh", "20.0.0.7303")
    scripts = rpm_query(rpm, "%{POSTIN}\n@@\n%{PREUN}\n@@\n%{POSTUN}\n")
    post, preun, postun = scripts.split("\n@@\n")
    for text, name, arg in ((post, "postinst", "configure"), (preun, "prerm", "remove"), (postun, "postrm", "remove")):
        with open(os.path.join(AGENT, "debian", name)) as f:
            body = "".join(l for l in f if not l.startswith("#!"))
        assert body in text
        assert "set -- %s\n" % arg in text
    # erase only ($1 = 0): on an upgrade the old package's %preun runs after the new %post
    assert preun.startswith('if [ "$1" = 0 ]; then') and postun.startswith('if [ "$1" = 0 ]; then')
