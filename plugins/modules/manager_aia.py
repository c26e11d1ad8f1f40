#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: manager_aia
short_description: Let agents activate themselves on a Deep Security Manager or Workload Security
version_added: 0.1.0
description:
  - >-
    Reads the manager's system setting C(platformSettingAgentInitiatedActivationEnabled) ("Allow Agent-Initiated
    Activation") through its REST API (C(GET /api/systemsettings/NAME)) and, when it does not let every computer
    activate itself, sets it to O(value) (C(POST /api/systemsettings/NAME) with C({"value": ...})).
  - Idempotent; in check mode it reads and reports what it would change, and changes nothing; with C(--diff) it
    shows the setting's value before and after.
  - 'An action plugin that runs on the controller (no module is sent to a host); it uses the same API client as
    the C(dsa.fleet.computers) inventory (headers C(api-secret-key) or C(Authorization: ApiKey), C(api-version),
    retries on C(429)/C(5xx), CA verification).'
  - The API key is sent only in its request header; it is never printed, and error messages have it redacted.
  - The C(dsa.fleet.activate) role runs it before an activation when C(dsa_fleet_manager_enable_aia) is true.
author:
  - dsa.fleet contributors (@dsa-fleet)
options:
  url:
    description:
      - The manager's API URL (C(/api) is added when the path does not end in it), for example
        C(https://dsm.example.com:4119) or C(https://workload.us-1.cloudone.trendmicro.com/api).
    type: str
    required: true
  api_key:
    description:
      - An API key whose role may change system settings (an administrator's). Its tenant's setting is changed.
    type: str
    required: true
  value:
    description:
      - The value to set when the current one does not let the host activate itself. C(For existing computers)
        lets only computers the manager already lists activate themselves.
    type: str
    choices: ['For any computers', 'For existing computers']
    default: For any computers
extends_documentation_fragment:
  - dsa.fleet.attributes
  - dsa.fleet.attributes.controller_action
  - dsa.fleet.attributes.platform_linux
  - dsa.fleet.manager_api
attributes:
  check_mode:
    support: full
    details: Reads the setting and reports whether it would change it.
  diff_mode:
    support: full
    details: The setting's value before and after.
notes:
  - Trend documents the setting's values C(For any computers) (the API's own samples), and the console's choices
    "For Existing Computers" and "For Computers on the following IP List"; any other value (the box unchecked)
    does not let agents activate themselves, and is replaced.
  - C(For computers on the following IP list) is replaced too, since this module cannot tell whether the host's
    address is on the list.
seealso:
  - name: Configure Deep Security Manager System Settings
    description: Trend's guide to the system settings API, with this setting as its example.
    link: https://automation.deepsecurity.trendmicro.com/article/20_0/configure-deep-security-manager-system-settings
  - name: Agent settings
    description: Administration > System Settings > Agents, Allow Agent-Initiated Activation.
    link: https://help.deepsecurity.trendmicro.com/Manage-Components/System-Settings/ui-admin-settings-agents.html
'''

EXAMPLES = r'''
- name: Let agents activate themselves (the key from a vault)
  dsa.fleet.manager_aia:
    url: https://dsm.example.com:4119
    api_key: "{{ vault_dsm_admin_api_key }}"
    ca_path: /etc/pki/dsm-ca.pem
  delegate_to: localhost
  run_once: true
  no_log: true
'''

RETURN = r'''
setting:
  description: The setting's name.
  returned: success
  type: str
  sample: platformSettingAgentInitiatedActivationEnabled
before:
  description: Its value before the task.
  returned: success
  type: str
  sample: Do not allow
value:
  description: Its value after the task (in check mode, the value it would have).
  returned: success
  type: str
  sample: For any computers
diff:
  description: The value before and after (with C(--diff)).
  returned: changed and diff mode
  type: dict
  sample: {"before": "platformSettingAgentInitiatedActivationEnabled: Do not allow\n",
           "after": "platformSettingAgentInitiatedActivationEnabled: For any computers\n"}
'''
