"""Study over HTTP, one router per topic: lists (what sites must study), sessions and photos, viewing
evidence, compliance and its export, assessment, feedback and demand. A site writes and reads its own
records (its token), administrators everyone's; roll-ups are for administrators alone."""
