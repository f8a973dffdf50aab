"""The staff console: accounts, inbox, case view and audit log (served at /console/)."""
