"""Revenue assurance: reconcile what each system holds now against the store's one truth."""
