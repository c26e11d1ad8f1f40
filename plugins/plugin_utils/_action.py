# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base of the collection's controller-only actions (no module goes to a host).

``ControllerAction``: a subclass names its options and their defaults once, in ``ARGS``; the option names Ansible
accepts (``_VALID_ARGS``) follow from them, and ``options()`` gives the task's arguments over the defaults (an
argument given as null keeps its default).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.plugins.action import ActionBase


class ControllerAction(ActionBase):
    """An action that runs on the controller only; ``ARGS``: option name -> default."""

    TRANSFERS_FILES = False
    _requires_connection = False
    ARGS = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._VALID_ARGS = frozenset(cls.ARGS)

    def options(self):
        """The task's arguments over ``ARGS``' defaults (a null argument keeps the default)."""
        args = dict(self.ARGS)
        args.update((k, v) for k, v in self._task.args.items() if v is not None)
        return args
