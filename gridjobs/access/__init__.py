"""Who may do what, on which feeders: identities (API tokens and JWTs), the
IEC 62351-8 roles, the one authorization table, areas of responsibility and
rate budgets."""
