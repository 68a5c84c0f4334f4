"""The real checkers (kubernetes-validate, np-guard's netpol-analyzer, checkov) on renders of the upstream
base."""
