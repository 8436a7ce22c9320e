"""People who sign in to the dashboard: users with passwords, their sessions and invitations. A signed-in
user acts as an `auth.Principal` with the role and scope an API key of that role would have."""
