# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters whose code is imported when they are first called, not when their file is loaded.

Ansible loads every filter file of a collection to find one ``dsa.fleet.*`` filter, and it does so again in each
forked worker, that is for each host and task whose templates name one. A filter file that imports the report
code (and through it ``ansible.module_utils.urls``, ssl, the diagnosis tables) at load time made every such task
pay about 0.1 s of controller CPU per host. ``filters(module, names)`` gives the ``FilterModule.filters()`` table
of functions that import ``module`` on their first call.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib


def _deferred(module, name):
    def call(*args, **kwargs):
        return getattr(importlib.import_module(module), name)(*args, **kwargs)
    call.__name__ = name
    call.__doc__ = 'dsa.fleet filter %s, from %s (imported on the first call).' % (name, module)
    return call


def filters(module, names):
    """{name: function} for ``FilterModule.filters()``: each function imports ``module`` when first called."""
    return dict((name, _deferred(module, name)) for name in names)
