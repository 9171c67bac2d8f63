"""One module per serving stack. Each turns its Kubernetes objects into `Workload`s (a set of identical pods
running one engine in one role) and `Loop`s (routers, autoscalers); `kubernetes.py` builds the description from them.
"""
