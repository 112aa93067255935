"""The fleet: what the centre sees of its terminal sites. Heartbeats come in (POST
/api/v1/sites/{id}/heartbeat); reachability (畅通率) and sync state by region go out to administrators
(/api/v1/fleet, /fleet/sites, /fleet.csv). Above sites (the registry) and delivery (whose manifests a
site is up to date with)."""
