"""Schedules at the centre (issue 21): weekly blocks per region that a site's channel plays, layered
for a site as its study lists are (the nearer level wins where blocks overlap), and the part of the
site's manifest that carries them. Above study (a block plays a study list) and catalog; below
delivery, whose manifest build reads it."""
