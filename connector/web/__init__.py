"""Flask blueprints: webhook receivers, admin pages and API, signed journey views."""
