"""The verification domain: tenants, challenges, trust lists, reports and events (pure Python)."""
