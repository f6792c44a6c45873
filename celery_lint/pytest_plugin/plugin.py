"""pytest hooks of celery-lint. Loaded in every pytest run of every user: keep it light."""
