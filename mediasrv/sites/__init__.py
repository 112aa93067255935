"""Terminal sites (终端站点) as a domain: the registry, device profiles, reports and presence,
fleet status."""
