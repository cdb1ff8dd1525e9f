"""Jianfu classifiers: jieba keyword rules that read a department's task notice (pure, rules as data)."""

from classifiers.classify import classify
from classifiers.model import (
    CertificateDecision,
    Classification,
    Evidence,
    Kind,
    Listing,
    Nature,
    Quantity,
    Recurrence,
)
from classifiers.rules import Rules, RulesError, load_rules

__all__ = [
    "CertificateDecision",
    "Classification",
    "Evidence",
    "Kind",
    "Listing",
    "Nature",
    "Quantity",
    "Recurrence",
    "Rules",
    "RulesError",
    "classify",
    "load_rules",
]
