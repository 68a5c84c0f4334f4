"""The installed console script, run in a subprocess as kustomize, kpt and users run it."""
