# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: one rule of a port policy as loaded, from its shorthand or its mapping, every value
checked with a message that names the rule and the key, and its canonical text."""

from __future__ import annotations

import datetime
import re

from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.errors import FilterError
from ansible_collections.netaudit.sockets.plugins.plugin_utils import _hoststr
from ansible_collections.netaudit.sockets.plugins.plugin_utils._filter_args import (
    PolicyError, is_int, parse_choice, parse_port_range, strip_filter_prefix, type_name,
)
from ansible_collections.netaudit.sockets.plugins.plugin_utils._listening import ORIGIN_FIELDS
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy.binds import Bind, bind_matcher
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy.keys import (
    FAMILY_WORDS, OWNER_KEYS, PORT_NETIDS, RULE_KEYS, UNKNOWN_OWNER_MODES,
)
from ansible_collections.netaudit.sockets.plugins.plugin_utils._ssfilter_fast import FastFilter, compile_filter

_SHORTHAND = re.compile(r'(?:(?P<proto>[A-Za-z][A-Za-z0-9_]*)/)?(?P<ports>[^@/]*)(?:@(?P<bind>.*))?\Z', re.S)
_DATE = re.compile(r'(\d{4})-(\d{1,2})-(\d{1,2})\Z')
_DATETIME = re.compile(r'(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][0-9:.]*(?:Z|[+-][0-9:]+)?)?\Z')


def strings(value: object, where: str, what: str) -> tuple[str, ...]:
    """One string or a list of them (each non-empty), as a tuple."""
    items = [value] if isinstance(value, (str, int)) and not isinstance(value, bool) else value
    if isinstance(items, (bytes, Mapping)) or not isinstance(items, Sequence) or not items:
        raise PolicyError('%s: expected %s or a list of them, got %s' % (where, what, type_name(value)))
    out = []
    for item in items:
        empty = isinstance(item, str) and not item.strip() and what != 'a namespace name'
        if isinstance(item, bool) or not isinstance(item, (str, int)) or empty:
            raise PolicyError('%s: expected %s, got %s' % (where, what, type_name(item) if item != '' else '""'))
        out.append(str(item).strip())
    return tuple(out)


def parse_date(value: object, where: str, allow_time: bool = False) -> datetime.date:
    """A datetime.date from a date, a datetime, or text YYYY-MM-DD (with a time after it when allow_time)."""
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        found = (_DATETIME if allow_time else _DATE).match(value.strip())
        if found:
            try:
                return datetime.date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
            except ValueError as exc:
                raise PolicyError('%s: "%s": not a valid date (%s)' % (where, value, exc))
        raise PolicyError('%s: "%s": not a date (expected YYYY-MM-DD)' % (where, value))
    raise PolicyError('%s: expected a date (YYYY-MM-DD), got %s' % (where, type_name(value)))


class Rule(object):
    """One rule of a policy, from the shorthand [proto/]PORT[-PORT][@BIND] or a mapping."""

    def __init__(self, kind: str, index: int, spec: object) -> None:
        self.kind, self.index = kind, index
        self.id = '%s[%d]' % (kind, index)
        self.path = 'policy.' + self.id
        self.protos: tuple[str, ...] | None = None
        self.ports: tuple[int, int] | None = None
        self.family: int | None = None
        self.binds: tuple[Bind, ...] | None = None
        self.users: tuple[str, ...] | None = None
        self.netns: tuple[str, ...] | None = None
        self.match: FastFilter | None = None
        self.match_text: str | None = None
        self.name: str | None = None
        self.reason: str | None = None
        self.until: datetime.date | None = None
        self.owners: dict[str, tuple[str, ...]] = {}    # owner key (OWNER_KEYS) -> its patterns
        self.unknown_owner: str | None = None           # this rule's own switch; None: the policy's
        if isinstance(spec, str) or is_int(spec):
            self._shorthand(str(spec))
        elif isinstance(spec, Mapping):
            self._mapping(spec)
        else:
            raise PolicyError('%s: expected a rule ("tcp/22", "udp/5353@loopback") or a mapping, got %s'
                              % (self.path, type_name(spec)))
        self.text = self._canonical()
        if self.name is None:
            self.name = self.text
        # The policy is the controller's own, but its text is echoed into messages next to host data: made safe once.
        self.label = '%s "%s"' % (self.id, _hoststr.text(self.name)) if self.name != self.text else self.id
        self.safe_text, self.safe_reason = _hoststr.text(self.text), None if self.reason is None else _hoststr.text(self.reason)

    @property
    def processes(self) -> tuple[str, ...] | None:
        return self.owners.get('process')

    @property
    def origin_keys(self) -> tuple[str, ...]:
        """The rule's keys judged on the record's unit, container and package: what its messages show of a socket."""
        return tuple(key for key in self.owners if key in ORIGIN_FIELDS)

    def _shorthand(self, text: str) -> None:
        where = '%s: "%s"' % (self.path, text)
        found = _SHORTHAND.match(text.strip())
        if not text.strip() or found is None:
            raise PolicyError('%s: expected [PROTO/]PORT[-PORT][@BIND], such as tcp/22 or udp/5353@loopback' % where)
        if found.group('proto'):
            self._proto(found.group('proto'), where)
        ports = found.group('ports').strip()
        if not ports:
            raise PolicyError('%s: expected a port or a range after "%s"' % (
                where, (found.group('proto') + '/') if found.group('proto') else ''))
        try:
            self.ports = parse_port_range(ports, 'x')
        except PolicyError as exc:
            raise PolicyError('%s: %s' % (where, str(exc).split(': ', 1)[1].replace('"%s": ' % ports, '')))
        if found.group('bind') is not None:
            try:
                self.binds = (bind_matcher(found.group('bind'), 'x'),)
            except PolicyError as exc:
                raise PolicyError('%s: after "@": %s' % (where, str(exc).split(': ', 1)[1]))

    def _proto(self, value: object, where: str) -> None:
        protos = strings(value, where, 'a protocol (tcp, udp, sctp ...)')
        for proto in protos:
            if proto.lower() not in PORT_NETIDS:
                raise PolicyError('%s: unknown protocol "%s" (expected one of %s)' % (where, proto, ', '.join(PORT_NETIDS)))
        self.protos = tuple(p.lower() for p in protos)

    def _mapping(self, spec: Mapping) -> None:
        unknown = [key for key in spec if key not in RULE_KEYS]
        if unknown:
            raise PolicyError('%s: unknown key%s %s (a rule takes %s)' % (
                self.path, 's' if len(unknown) > 1 else '', ', '.join('"%s"' % k for k in unknown), ', '.join(RULE_KEYS)))
        path = self.path
        if spec.get('port') is not None:
            self.ports = parse_port_range(spec['port'], path + '.port')
        if spec.get('proto') is not None:
            self._proto(spec['proto'], path + '.proto')
        if spec.get('family') is not None:
            word = str(spec['family']).strip().lower()
            if word not in FAMILY_WORDS:
                raise PolicyError('%s.family: "%s": expected inet (IPv4) or inet6 (IPv6)' % (path, spec['family']))
            self.family = FAMILY_WORDS[word]
        if spec.get('bind') is not None:
            self._binds(spec['bind'])
        for key in OWNER_KEYS:
            if spec.get(key) is not None:
                self.owners[key] = strings(spec[key], '%s.%s' % (path, key), 'a %s name or glob' % key)
        if spec.get('user') is not None:
            self.users = strings(spec['user'], path + '.user', 'a user name or uid')
        if spec.get('netns') is not None:
            self.netns = strings(spec['netns'], path + '.netns', 'a namespace name')
        if spec.get('match') is not None:
            text = spec['match']
            if not isinstance(text, str):
                raise PolicyError('%s.match: expected an ss filter expression, got %s' % (path, type_name(text)))
            try:
                self.match = compile_filter(text)
            except FilterError as exc:
                raise PolicyError('%s.match: "%s": %s' % (path, text, strip_filter_prefix(str(exc))))
            self.match_text = text
        for key in ('name', 'reason'):
            if spec.get(key) is not None:
                if not isinstance(spec[key], (str, int)) or isinstance(spec[key], bool):
                    raise PolicyError('%s.%s: expected a string, got %s' % (path, key, type_name(spec[key])))
                setattr(self, key, str(spec[key]))
        if spec.get('until') is not None:
            self.until = parse_date(spec['until'], path + '.until')
        if spec.get('unknown_owner') is not None:
            self.unknown_owner = parse_choice(spec['unknown_owner'], UNKNOWN_OWNER_MODES, path + '.unknown_owner')

    def _binds(self, bind: object) -> None:
        path = self.path
        if isinstance(bind, str) or not isinstance(bind, Sequence):
            self.binds = (bind_matcher(bind, path + '.bind'),)
        elif not bind:
            raise PolicyError('%s.bind: the list is empty' % path)
        else:
            self.binds = tuple(bind_matcher(b, '%s.bind[%d]' % (path, i)) for i, b in enumerate(bind))
        for text, version, _test in self.binds:
            if version is not None and self.family is not None and version != self.family:
                raise PolicyError('%s.bind: "%s" is not an %s address, but family is %s' % (
                    path, text, 'IPv%d' % self.family, 'inet' if self.family == 4 else 'inet6'))

    def _canonical(self) -> str:
        """The rule in one line: tcp/22@loopback, */8000-8099 process=java, for names and messages."""
        if self.ports is None:
            ports = '*'
        else:
            ports = '%d' % self.ports[0] if self.ports[0] == self.ports[1] else '%d-%d' % self.ports
        text = ','.join(self.protos) + '/' + ports if self.protos else ports
        if self.binds:
            text += '@' + ','.join(b[0] for b in self.binds)
        extras = []
        if self.family:
            extras.append('family=%s' % ('inet' if self.family == 4 else 'inet6'))
        for label, values in [(key, self.owners.get(key)) for key in OWNER_KEYS] + [('user', self.users), ('netns', self.netns)]:
            if values is not None:
                extras.append('%s=%s' % (label, ','.join(values)))
        if self.match_text is not None:
            extras.append('match="%s"' % self.match_text)
        if self.unknown_owner is not None:
            extras.append('unknown_owner=%s' % self.unknown_owner)
        return ' '.join([text] + extras)

    def mode(self, policy_mode: str) -> str:
        """'fail' or 'ignore': what this rule does with a socket whose owner (or unit, container, package) is unknown,
        when it has a key judged on it (OWNER_KEYS)."""
        return self.unknown_owner or policy_mode

    def needs_owner(self) -> bool:
        return bool(self.owners)

    def describe(self) -> dict[str, Any]:
        """The rule's keys as the verdict shows them (docs/policy.md, "The verdict")."""
        described: dict[str, Any] = {
            'proto': list(self.protos) if self.protos else None,
            'port': None if self.ports is None else (
                self.ports[0] if self.ports[0] == self.ports[1] else '%d-%d' % self.ports),
            'family': None if self.family is None else ('inet' if self.family == 4 else 'inet6'),
            'bind': [b[0] for b in self.binds] if self.binds else None,
        }
        for key in OWNER_KEYS:
            described[key] = list(self.owners[key]) if key in self.owners else None
        described.update({
            'user': list(self.users) if self.users else None,
            'netns': list(self.netns) if self.netns is not None else None,
            'match': self.match_text,
            'unknown_owner': self.unknown_owner,
        })
        return described
