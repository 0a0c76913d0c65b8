# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: port policy rules, and port_audit's verdict on one host's listening sockets."""

from __future__ import annotations

import datetime
import fnmatch
import ipaddress
import json
import re

from collections.abc import Mapping, Sequence

from ansible_collections.netaudit.sockets.plugins.module_utils import _ssfilter
from ansible_collections.netaudit.sockets.plugins.plugin_utils import _hoststr
from ansible_collections.netaudit.sockets.plugins.plugin_utils._filter_args import (
    PolicyError, is_int, parse_boolean, parse_choice, parse_port_range, socket_records, strip_filter_prefix, type_name,
)
from ansible_collections.netaudit.sockets.plugins.plugin_utils._listening import listeners, owner_unknown_text, parse_ip
from ansible_collections.netaudit.sockets.plugins.plugin_utils._ssfilter_fast import compile_filter

# --- rules ----------------------------------------------------------------------------------------------------

PORT_NETIDS = ('tcp', 'udp', 'sctp', 'mptcp', 'dccp', 'raw')
# Rule keys judged on the socket's owning processes, each against that field of the record's `processes` entries
# (OWNER_FIELDS, else the key itself). A socket whose owner is unknown cannot be judged on them: the rule fails closed
# (docs/policy.md, "Sockets whose owner is unknown"). `unit`, `container` or `package` join by adding their name here.
OWNER_KEYS = ('process',)
OWNER_FIELDS = {'process': 'name'}
UNKNOWN_OWNER_MODES = ('fail', 'ignore')
RULE_KEYS = ('port', 'proto', 'family', 'bind') + OWNER_KEYS + (
    'user', 'netns', 'match', 'name', 'reason', 'until', 'unknown_owner')
POLICY_KEYS = ('expected', 'allowed', 'forbidden', 'closed_world', 'accept_incomplete', 'unknown_owner', 'name',
               'description')
KINDS = ('expected', 'allowed', 'forbidden')
# Rule.judge()'s third answer: the rule would match but for an owner key, and the socket's owner is unknown.
UNDECIDED = 'undecided'
FAMILY_WORDS = {'inet': 4, 'ipv4': 4, '4': 4, 'inet6': 6, 'ipv6': 6, '6': 6}
SCOPES = ('any', 'loopback', 'public')
_SHORTHAND = re.compile(r'(?:(?P<proto>[A-Za-z][A-Za-z0-9_]*)/)?(?P<ports>[^@/]*)(?:@(?P<bind>.*))?\Z', re.S)
_DATE = re.compile(r'(\d{4})-(\d{1,2})-(\d{1,2})\Z')
_DATETIME = re.compile(r'(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][0-9:.]*(?:Z|[+-][0-9:]+)?)?\Z')


def _bind_matcher(value, where):
    """(canonical text, version or None, test(endpoint, listener))."""
    if not isinstance(value, str) or not value.strip():
        raise PolicyError('%s: expected any, loopback, public, an address or a CIDR, got %s' % (
            where, 'an empty string' if isinstance(value, str) else type_name(value)))
    text = value.strip()
    word = text.lower()
    if word in ('any', '*'):
        return 'any', None, lambda end, listener: end.is_unspecified
    if word == 'loopback':
        return 'loopback', None, lambda end, listener: end.is_loopback or listener.interface == 'lo'
    if word == 'public':
        return 'public', None, lambda end, listener: not (end.is_loopback or listener.interface == 'lo')
    bare = text[1:-1] if text.startswith('[') and text.endswith(']') else text
    if '/' in bare:
        try:
            network = ipaddress.ip_network(bare, strict=False)
        except ValueError:
            network = None
        if network is not None:
            if network.version == 6 and network.prefixlen >= 96 and network.network_address.ipv4_mapped is not None:
                network = ipaddress.ip_network('%s/%d' % (network.network_address.ipv4_mapped, network.prefixlen - 96))
            return str(network), network.version, (
                lambda end, listener: end.version == network.version and end in network)
    else:
        ip = parse_ip(bare)
        if ip is not None and '%' not in bare:
            if ip.version == 6 and ip.ipv4_mapped is not None:
                ip = ip.ipv4_mapped
            return str(ip), ip.version, lambda end, listener: end == ip
    raise PolicyError('%s: "%s": expected any, loopback, public, an address or a CIDR' % (where, value))


def _strings(value, where, what):
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


def parse_date(value, where, allow_time=False):
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

    def __init__(self, kind, index, spec):
        self.kind, self.index = kind, index
        self.id = '%s[%d]' % (kind, index)
        self.path = 'policy.' + self.id
        self.protos = self.ports = self.family = self.binds = None
        self.users = self.netns = self.match = None
        self.match_text = self.name = self.reason = self.until = None
        self.owners = {}                # owner key (OWNER_KEYS) -> its patterns
        self.unknown_owner = None       # this rule's own switch; None: the policy's
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
    def processes(self):
        return self.owners.get('process')

    def _shorthand(self, text):
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
                self.binds = (_bind_matcher(found.group('bind'), 'x'),)
            except PolicyError as exc:
                raise PolicyError('%s: after "@": %s' % (where, str(exc).split(': ', 1)[1]))

    def _proto(self, value, where):
        protos = _strings(value, where, 'a protocol (tcp, udp, sctp ...)')
        for proto in protos:
            if proto.lower() not in PORT_NETIDS:
                raise PolicyError('%s: unknown protocol "%s" (expected one of %s)' % (where, proto, ', '.join(PORT_NETIDS)))
        self.protos = tuple(p.lower() for p in protos)

    def _mapping(self, spec):
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
            bind = spec['bind']
            if isinstance(bind, str) or not isinstance(bind, Sequence):
                self.binds = (_bind_matcher(bind, path + '.bind'),)
            elif not bind:
                raise PolicyError('%s.bind: the list is empty' % path)
            else:
                self.binds = tuple(_bind_matcher(b, '%s.bind[%d]' % (path, i)) for i, b in enumerate(bind))
            for text, version, _test in self.binds:
                if version is not None and self.family is not None and version != self.family:
                    raise PolicyError('%s.bind: "%s" is not an %s address, but family is %s' % (
                        path, text, 'IPv%d' % self.family, 'inet' if self.family == 4 else 'inet6'))
        for key in OWNER_KEYS:
            if spec.get(key) is not None:
                self.owners[key] = _strings(spec[key], '%s.%s' % (path, key), 'a %s name or glob' % key)
        if spec.get('user') is not None:
            self.users = _strings(spec['user'], path + '.user', 'a user name or uid')
        if spec.get('netns') is not None:
            self.netns = _strings(spec['netns'], path + '.netns', 'a namespace name')
        if spec.get('match') is not None:
            text = spec['match']
            if not isinstance(text, str):
                raise PolicyError('%s.match: expected an ss filter expression, got %s' % (path, type_name(text)))
            try:
                self.match = compile_filter(text)
            except _ssfilter.FilterError as exc:
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

    def _canonical(self):
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

    def mode(self, policy_mode):
        """'fail' or 'ignore': what this rule does with a socket whose owner is unknown, when it needs an owner."""
        return self.unknown_owner or policy_mode

    def needs_owner(self):
        return bool(self.owners)

    def matches(self, listener):
        """Whether the rule describes this listening socket for certain (an unknown owner matches no owner key)."""
        return self.judge(listener) is True

    def judge(self, listener):
        """True when the rule describes this listening socket (dual stack: its IPv4 side counts too), False when it
        does not, UNDECIDED when every other key matches but the rule needs the owner and the owner is unknown."""
        if not self._matches_socket(listener):
            return False
        if not self.owners:
            return True
        if listener.owner_unknown is not None:
            return UNDECIDED
        for key, patterns in self.owners.items():
            field = OWNER_FIELDS.get(key, key)
            values = listener.names if field == 'name' else listener.owner_values(field)
            if not any(fnmatch.fnmatchcase(value, pattern) for value in values for pattern in patterns):
                return False
        return True

    def _matches_socket(self, listener):
        """The keys judged on the socket itself: everything but OWNER_KEYS."""
        if self.protos is not None and listener.proto not in self.protos:
            return False
        if self.ports is not None and not self.ports[0] <= listener.port <= self.ports[1]:
            return False
        if self.netns is not None and not any(fnmatch.fnmatchcase(listener.netns or '', pattern) for pattern in self.netns):
            return False
        if self.users is not None and not any(_user_matches(listener, user) for user in self.users):
            return False
        if self.family is not None or self.binds is not None:
            for end in listener.endpoints:
                if self.family is not None and end.version != self.family:
                    continue
                if self.binds is None or any(test(end, listener) for _text, _version, test in self.binds):
                    break
            else:
                return False
        if self.match is not None:
            try:
                return self.match.flt.match(listener.record)
            except _ssfilter.FilterError as exc:
                raise PolicyError('%s.match: "%s": %s' % (self.path, self.match_text, strip_filter_prefix(str(exc))))
        return True

    def describe(self):
        described = {
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


def _user_matches(listener, user):
    if user.isdigit():
        return listener.uid is not None and str(listener.uid) == user
    return listener.user is not None and fnmatch.fnmatchcase(listener.user, user)


class Policy(object):
    """A parsed policy: its rules by kind and its switches."""

    def __init__(self, policy):
        if not isinstance(policy, Mapping):
            raise PolicyError('policy: expected a mapping with expected, allowed, forbidden, closed_world; got %s'
                              % type_name(policy))
        unknown = [key for key in policy if key not in POLICY_KEYS]
        if unknown:
            raise PolicyError('policy: unknown key%s %s (a policy takes %s)' % (
                's' if len(unknown) > 1 else '', ', '.join('"%s"' % k for k in unknown), ', '.join(POLICY_KEYS)))
        self.rules = []
        for kind in KINDS:
            items = policy.get(kind)
            if items is None:
                continue
            if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Sequence):
                raise PolicyError('policy.%s: expected a list of rules, got %s' % (kind, type_name(items)))
            for index, spec in enumerate(items):
                self.rules.append(Rule(kind, index, spec))
        self.closed_world = _switch(policy, 'closed_world')
        self.accept_incomplete = _switch(policy, 'accept_incomplete')
        self.unknown_owner = 'fail' if policy.get('unknown_owner') is None else parse_choice(
            policy['unknown_owner'], UNKNOWN_OWNER_MODES, 'policy.unknown_owner')
        self.name = policy.get('name')


def _switch(policy, key):
    value = policy.get(key)
    return False if value is None else parse_boolean(value, 'policy.' + key)


_POLICY_CACHE = {}


def compile_policy(policy):
    """A Policy, cached by the policy's JSON text (a fleet audit passes the same policy for every host)."""
    try:
        key = json.dumps(policy, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return Policy(policy)
    found = _POLICY_CACHE.get(key)
    if found is None:
        found = Policy(policy)
        if len(_POLICY_CACHE) >= 64:
            _POLICY_CACHE.clear()
        _POLICY_CACHE[key] = found
    return found


# --- the audit ------------------------------------------------------------------------------------------------

def _today(now):
    if now is None:
        return datetime.date.today()
    return parse_date(now, 'now', allow_time=True)


def _rule_result(rule, mode, expired, sockets, undecided, excepted=None):
    """One rule's result. `sockets` match it for certain; `undecided` would match but for an owner key, their owner
    being unknown (only when the rule fails closed; a forbidden rule counts them as violations)."""
    result = {
        'id': rule.id, 'kind': rule.kind, 'index': rule.index, 'name': rule.name, 'text': rule.text,
        'rule': rule.describe(), 'reason': rule.reason,
        'until': rule.until.isoformat() if rule.until else None, 'expired': expired,
        'unknown_owner': rule.mode(mode) if rule.needs_owner() else None,
        'sockets': [s.summary() for s in sockets + (undecided if rule.kind == 'forbidden' else [])],
        'undecided': [s.summary() for s in undecided],
    }
    if rule.kind == 'forbidden':
        result['excepted'] = [s.summary() for s in excepted or ()]
    label, rule_text = rule.label, rule.safe_text
    found = '; '.join(s.describe() for s in sockets)
    unknown = '; '.join(s.describe() for s in undecided)
    if expired:
        status, passed = 'expired', True
        message = '%s (%s) expired on %s and no longer applies%s' % (
            label, rule_text, result['until'], ('; it would match ' + found) if sockets else '')
    elif rule.kind == 'expected':
        status = 'ok' if sockets else 'missing'
        passed = bool(sockets)
        if sockets:
            message = '%s (%s) is listening: %s' % (label, rule_text, found)
        elif undecided:
            message = ('%s (%s): nothing is listening that is known to match; the rule needs the owner, which is '
                       'unknown for: %s' % (label, rule_text, unknown))
        else:
            message = '%s (%s): nothing is listening' % (label, rule_text)
    elif rule.kind == 'forbidden':
        status = 'violated' if sockets or undecided else 'ok'
        passed = status == 'ok'
        parts = ['%s (%s)' % (label, rule_text)]
        if sockets:
            parts.append(' is forbidden, but listening: ' + found)
        if undecided:
            parts.append('%s cannot be ruled out: %s' % ('; and' if sockets else '', unknown))
        if not sockets and not undecided:
            parts.append(': nothing forbidden is listening')
        message = ''.join(parts)
        if excepted:
            message += '; excepted until the exception expires: ' + '; '.join(s.describe() for s in excepted)
    else:
        status, passed = 'ok', True
        if sockets:
            message = '%s (%s) allows: %s' % (label, rule_text, found)
        elif undecided:
            message = '%s (%s): nothing listening is known to use it' % (label, rule_text)
        else:
            message = '%s (%s): nothing listening uses it' % (label, rule_text)
        if undecided:
            message += '; the rule needs the owner, which is unknown for: ' + unknown
    if rule.safe_reason:
        message += ' [reason: %s]' % rule.safe_reason
    result.update(status=status, passed=passed, message=message)
    return result


def _unknown_default(meta):
    """The owner_unknown reason of records from before that key, from what socket_meta says (see owner_unknown())."""
    if isinstance(meta, Mapping) and 'owners_visible' in meta:
        visible = meta['owners_visible']
        if visible is None:
            return 'not_gathered'
        if visible is False:
            return 'not_visible'
    return None


def port_audit(sockets, policy, now=None, socket_meta=None):
    """The verdict of one host's socket facts against a port policy (see docs/policy.md for its structure)."""
    records, found_meta = socket_records(sockets)
    meta = socket_meta if socket_meta is not None else found_meta
    if meta is not None and not isinstance(meta, Mapping):
        raise PolicyError('socket_meta: expected the socket_meta dict of socket_facts, got %s' % type_name(meta))
    compiled = compile_policy(policy)
    mode = compiled.unknown_owner
    today = _today(now)
    found = listeners(records, unknown_default=_unknown_default(meta))

    expired = set(rule.id for rule in compiled.rules if rule.until is not None and today > rule.until)
    matched = dict((rule.id, []) for rule in compiled.rules)
    undecided = dict((rule.id, []) for rule in compiled.rules)
    ignored = dict((rule.id, []) for rule in compiled.rules)
    socket_entries, unexpected, unknown_owner, excepted = [], [], [], {}
    for listener in found:
        hits, open_rules = [], []
        for rule in compiled.rules:
            judged = rule.judge(listener)
            if judged is True:
                matched[rule.id].append(listener)
                if rule.id not in expired:
                    hits.append(rule)
            elif judged == UNDECIDED:
                # Fail closed: a forbidden rule cannot rule the socket out, an expected or allowed rule cannot vouch
                # for it. With unknown_owner: ignore, the owner test is simply false (noted in the verdict).
                if rule.mode(mode) == 'ignore':
                    if rule.id not in expired:
                        ignored[rule.id].append(listener)
                else:
                    undecided[rule.id].append(listener)
                    if rule.id not in expired:
                        open_rules.append(rule)
        kinds = dict((kind, [r for r in hits if r.kind == kind]) for kind in KINDS)
        forbidding = kinds['forbidden'] + [r for r in open_rules if r.kind == 'forbidden']
        # A live exception (an expected or allowed rule with `until`) overrides the forbidden rules it overlaps.
        exceptions = [r for r in hits if r.until is not None and r.kind != 'forbidden']
        if forbidding and not exceptions:
            status = 'forbidden'
        elif kinds['expected']:
            status = 'expected'
        elif kinds['allowed']:
            status = 'allowed'
        else:
            status = 'unexpected' if compiled.closed_world else 'unlisted'
        if forbidding and exceptions:
            for rule in forbidding:
                excepted.setdefault(rule.id, []).append(listener)
        entry = listener.summary()
        entry.update(status=status, rules=[r.id for r in hits], undecided=[r.id for r in open_rules],
                     exception=exceptions[0].id if exceptions and forbidding else None)
        socket_entries.append(entry)
        if status == 'unexpected':
            unexpected.append(entry)
        if listener.owner_unknown is not None:
            unknown_owner.append(entry)

    results = []
    for rule in compiled.rules:
        sockets_found, doubtful = matched[rule.id], undecided[rule.id]
        if rule.id in excepted:
            spared = set(id(s) for s in excepted[rule.id])
            sockets_found = [s for s in sockets_found if id(s) not in spared]
            doubtful = [s for s in doubtful if id(s) not in spared]
        results.append(_rule_result(rule, mode, rule.id in expired, sockets_found, doubtful, excepted.get(rule.id)))

    complete = None if meta is None else meta.get('complete')
    incomplete = complete is False
    reasons = list(meta.get('incomplete_reasons') or ()) if incomplete else []
    notes = []
    if meta is None:
        notes.append('no socket_meta was given, so whether the facts are complete is unknown')
    elif complete is None:
        notes.append('socket_meta has no "complete" key, so whether the facts are complete is unknown')
    for rule in compiled.rules:
        if ignored[rule.id]:
            notes.append('%s (%s) needs the owner, which is unknown, and has unknown_owner: ignore, so it did not judge: %s'
                         % (rule.label, rule.safe_text, '; '.join(s.describe() for s in ignored[rule.id])))

    missing = [r for r in results if r['status'] == 'missing']
    violated = [r for r in results if r['status'] == 'violated']
    expired_results = [r for r in results if r['status'] == 'expired']
    violations = [r['message'] for r in missing + violated]
    violations += ['unexpected: %s matches no expected or allowed rule (closed world)%s' % (
        _describe_entry(entry), _undecided_text(entry)) for entry in unexpected]
    if incomplete and not compiled.accept_incomplete:
        violations.append('incomplete facts: %s (set accept_incomplete: true in the policy to accept them)'
                          % (_hoststr.text('; '.join(reasons)) or 'socket_meta.complete is false'))
    return {
        'compliant': not violations,
        'date': today.isoformat(),
        'closed_world': compiled.closed_world,
        'accept_incomplete': compiled.accept_incomplete,
        'unknown_owner_mode': mode,
        'incomplete': incomplete,
        'incomplete_reasons': [_hoststr.clean(reason) for reason in reasons],
        'violations': violations,
        'missing': missing,
        'forbidden': violated,
        'unexpected': unexpected,
        'unknown_owner': unknown_owner,
        'expired_exceptions': expired_results,
        'rules': results,
        'sockets': socket_entries,
        'summary': {
            'listening': len(socket_entries), 'rules': len(results), 'missing': len(missing),
            'forbidden': len(violated), 'unexpected': len(unexpected), 'unknown_owner': len(unknown_owner),
            'expired_exceptions': len(expired_results), 'violations': len(violations),
        },
        'notes': notes,
    }


def _undecided_text(entry):
    if not entry['undecided']:
        return ''
    return '; %s need%s its owner, which is unknown' % (
        ', '.join(entry['undecided']), 's' if len(entry['undecided']) == 1 else '')


def _describe_entry(entry):
    """A socket entry as Listener.describe() names the socket; every piece of host data through _hoststr.text()."""
    text = _hoststr.text
    if entry.get('owner_unknown') is not None:
        owners = 'owner unknown: ' + owner_unknown_text(entry['owner_unknown'])
    else:
        owners = ', '.join(text(name) for name in entry['processes']) or 'owner unknown'
        if entry['pids']:
            owners += ' pid ' + ','.join(text(pid) for pid in entry['pids'])
    if entry['user'] is not None or entry['uid'] is not None:
        owners += ', user %s' % text(entry['user'] if entry['user'] is not None else entry['uid'])
    netns = ' in netns %s' % text(entry['netns']) if entry['netns'] else ''
    return '%s %s%s (%s)' % (text(entry['proto']), text(entry['endpoint']), netns, owners)
