"""The pipeline of one sync run: read, capture, resolve refs, detect change, deliver, commit."""
