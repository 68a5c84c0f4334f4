"""`executor-dind doctor`: read-only checks of a live cluster for what a render needs of it.

needs.py reads the render's objects into what they ask of the cluster; checks.py judges the JSON the cluster
returns; kubectl.py is the only part that talks to the cluster (`kubectl get ... -o json`, the user's own binary
and kubeconfig). Never imported by the KRM function.
"""
