"""Identity, roles, the policy and the row scope. Depends on neither models nor resolvers."""
