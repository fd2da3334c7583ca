"""Name constraints and certificate-policy constraints along a chain (RFC 5280 §6.1), as
strict as OpenSSL with ``X509_V_FLAG_POLICY_CHECK`` (ADR 0042).  Pure functions.

* Name constraints (critical or not) of every certificate above a certificate apply
  to its subject and its directoryName alternative names (OpenSSL's order: the trust
  anchor's own constraints included; self-issued intermediates are not checked).
  Only directoryName subtrees are evaluated: a constraint of any other type fails
  closed (stricter than OpenSSL, which evaluates DNS, e-mail, URI and IP subtrees).
* Policies: the explicit-policy and inhibit-anyPolicy counters of RFC 5280 are kept
  exactly; the valid policy set is computed without policy mappings.  When an
  explicit policy is required and a certificate of the path maps policies, the chain
  fails closed.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509
from cryptography.x509.oid import CertificatePoliciesOID, ExtensionOID

from ._names import CanonicalName, canonical_name
from ._x509 import SourcedCert, extension, extensions_of, self_issued

# OpenSSL verify codes (X509_V_ERR_*)
INVALID_POLICY_EXTENSION = 42
NO_EXPLICIT_POLICY = 43
PERMITTED_VIOLATION = 47
EXCLUDED_VIOLATION = 48
UNSUPPORTED_CONSTRAINT_TYPE = 51

ANY_POLICY = CertificatePoliciesOID.ANY_POLICY


class ConstraintViolation(Exception):
    """A constraint is violated: ``level`` in the chain, OpenSSL ``code``, ``reason``."""

    def __init__(self, level: int, code: int, reason: str) -> None:
        super().__init__(reason)
        self.level = level
        self.code = code
        self.reason = reason


def _within(name: CanonicalName, base: CanonicalName) -> bool:
    """Is ``name`` in the subtree of ``base`` (base's RDNs are a prefix of name's)?"""
    return name[:len(base)] == base


def _directory_names(cert: x509.Certificate) -> list[x509.Name]:
    names = [cert.subject] if len(cert.subject.rdns) > 0 else []
    alt = extension(cert, x509.SubjectAlternativeName)
    if alt is not None:
        names += alt.value.get_values_for_type(x509.DirectoryName)
    return names


def _subtrees(trees: list[x509.GeneralName] | None, owner: SourcedCert, level: int,
              ) -> list[CanonicalName]:
    found = []
    for tree in trees or ():
        if not isinstance(tree, x509.DirectoryName):
            raise ConstraintViolation(
                level, UNSUPPORTED_CONSTRAINT_TYPE,
                f"{owner.label} has a name constraint of type {type(tree).__name__}, which "
                "is not evaluated (only directoryName constraints are)")
        found.append(canonical_name(tree.value))
    return found


def check_name_constraints(chain: Sequence[SourcedCert]) -> None:
    """Every certificate's directory names against the name constraints above it.

    Raises :class:`ConstraintViolation`; ValueError on malformed extensions.
    """
    for j in range(len(chain) - 1, 0, -1):
        ext = extension(chain[j].cert, x509.NameConstraints)
        if ext is None:
            continue
        permitted = _subtrees(ext.value.permitted_subtrees, chain[j], j)
        excluded = _subtrees(ext.value.excluded_subtrees, chain[j], j)
        for i in range(j - 1, -1, -1):
            link = chain[i]
            if i != 0 and self_issued(link.cert):
                continue
            for name in _directory_names(link.cert):
                key = canonical_name(name)
                if ext.value.permitted_subtrees is not None and \
                        not any(_within(key, base) for base in permitted):
                    raise ConstraintViolation(
                        i, PERMITTED_VIOLATION,
                        f"the name of {link.label} is outside the names permitted by "
                        f"{chain[j].label} (name constraints)")
                if any(_within(key, base) for base in excluded):
                    raise ConstraintViolation(
                        i, EXCLUDED_VIOLATION,
                        f"the name of {link.label} is excluded by {chain[j].label} "
                        "(name constraints)")


def _policies(cert: x509.Certificate) -> set[x509.ObjectIdentifier] | None:
    ext = extension(cert, x509.CertificatePolicies)
    if ext is None:
        return None
    return {info.policy_identifier for info in ext.value}


def check_policies(chain: Sequence[SourcedCert]) -> None:
    """RFC 5280 §6.1 policy processing with an any-policy initial set and no initial
    explicit-policy, any-policy-inhibit or mapping-inhibit (OpenSSL's defaults).

    Raises :class:`ConstraintViolation` (``NO_EXPLICIT_POLICY`` when an explicit policy
    is required and the path has no valid policy); ValueError on malformed extensions.
    """
    path = list(reversed(chain[:-1]))  # from the certificate below the anchor to the leaf
    n = len(path)
    explicit = n + 1
    inhibit_any = n + 1
    valid: set[x509.ObjectIdentifier] | None = {ANY_POLICY}
    mapped = False
    for i, link in enumerate(path, start=1):
        cert = link.cert
        is_leaf = i == n
        policies = _policies(cert)
        if any(ext.oid == ExtensionOID.POLICY_MAPPINGS for ext in extensions_of(cert)):
            mapped = True
        if policies is None or valid is None:
            valid = None
        else:
            any_allowed = inhibit_any > 0 or (not is_leaf and self_issued(cert))
            new: set[x509.ObjectIdentifier] = set()
            for policy in policies - {ANY_POLICY}:
                if policy in valid or ANY_POLICY in valid:
                    new.add(policy)
            if ANY_POLICY in policies and any_allowed:
                new |= valid
            valid = new or None
        if not is_leaf:
            if not self_issued(cert):
                explicit = max(0, explicit - 1)
                inhibit_any = max(0, inhibit_any - 1)
            constraints = extension(cert, x509.PolicyConstraints)
            if constraints is not None:
                required = constraints.value.require_explicit_policy
                if required is not None and required < explicit:
                    explicit = required
            inhibit = extension(cert, x509.InhibitAnyPolicy)
            if inhibit is not None and inhibit.value.skip_certs < inhibit_any:
                inhibit_any = inhibit.value.skip_certs
        else:
            explicit = max(0, explicit - 1)
            constraints = extension(cert, x509.PolicyConstraints)
            if constraints is not None and constraints.value.require_explicit_policy == 0:
                explicit = 0
    # Once the valid set is empty it stays empty and the counter never grows, so checking
    # RFC 5280 6.1.3 (f) at every certificate comes to checking it once, at the end.
    if explicit == 0 and mapped:
        raise ConstraintViolation(
            0, INVALID_POLICY_EXTENSION,
            "an explicit certificate policy is required and the chain maps policies, "
            "which is not evaluated")
    if explicit == 0 and valid is None:
        raise ConstraintViolation(
            0, NO_EXPLICIT_POLICY,
            "an explicit certificate policy is required (policy constraints), but the "
            "certificates of the chain have no policy in common")
