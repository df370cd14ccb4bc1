"""Authentication: the users file, the login session, HTTP Basic for the API and the request guard."""
