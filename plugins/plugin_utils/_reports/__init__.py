# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: fleet reports of port_audit verdicts, one file per format. `render.py` is what the
audit_report filter and the port_verdict and port_reports actions call (`render()`, a format by name); `common.py`
holds what the formats share (the formats and their file extensions, the hosts of a fleet in order, the fleet line,
sockets and rules as raw text and as table rows); `json.py`, `markdown.py`, `junit.py` (JUnit XML), `html.py` (a
self-contained page with the fleet matrix) and `text.py` (what tools/audit prints, and the one-line summary per
host) each render one format."""
