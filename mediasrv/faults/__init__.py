"""The centre's fault loop: detect broken sites (a periodic sweep over the fleet), record faults people
report, tell each region's contacts in one digest, escalate what stays open, report repair times."""
