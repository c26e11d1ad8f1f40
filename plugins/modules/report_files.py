#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: report_files
short_description: Write a dsa.fleet report's files on the controller
version_added: 0.1.0
description:
  - Renders a report made by the C(dsa.fleet.fleet_report) or C(dsa.fleet.remediation_report) filter as JSON,
    Markdown and a self-contained HTML page, and writes the files into a folder on the controller, in one task.
  - An action plugin that runs entirely on the controller (no module is sent to a host), so writing the fleet
    report costs about nothing next to the diagnosis itself.
  - The files are output, not a change to a managed host; the task never reports C(changed), and it writes in
    check mode too.
  - Each file is written atomically (a temporary file, then a rename), with mode C(0600); the folder is created
    with mode C(0700) when missing. Secrets are redacted again by the renderers (the collection's one redactor).
  - A report that is not well formed (edited by hand, assembled by a caller) is refused with a message, and
    nothing is written.
author:
  - dsa.fleet contributors (@dsa-fleet)
options:
  report:
    description: The report, as the C(dsa.fleet.fleet_report) or C(dsa.fleet.remediation_report) filter makes it.
    type: dict
    required: true
  kind:
    description: Which report O(report) is.
    type: str
    choices: [fleet, remediation]
    default: fleet
  dest:
    description: The folder on the controller to write into.
    type: path
    required: true
  files:
    description: File name (in O(dest)) to format, C(json), C(markdown) or C(html).
    type: dict
    required: true
extends_documentation_fragment:
  - dsa.fleet.attributes
  - dsa.fleet.attributes.controller_action
  - dsa.fleet.attributes.platform_linux
attributes:
  check_mode:
    support: full
    details: Writes the files in check mode too, since they are controller-side output, not a host change.
  diff_mode:
    support: none
notes:
  - The C(dsa.fleet.diagnose) and C(dsa.fleet.remediate) roles write their reports with it.
'''

EXAMPLES = r'''
- name: Write the fleet report
  dsa.fleet.report_files:
    report: "{{ dsa_fleet_report }}"
    dest: ./dsa-fleet-report
    files:
      report.json: json
      report.md: markdown
      report.html: html
  run_once: true
'''

RETURN = r'''
dest:
  description: The folder written into, as an absolute path.
  returned: success
  type: str
  sample: /home/me/dsa-fleet-report
files:
  description: The files written.
  returned: success
  type: list
  elements: str
  sample: [/home/me/dsa-fleet-report/report.html, /home/me/dsa-fleet-report/report.json]
'''
