"""Page handlers: each calls KMS operations as the signed-in principal and picks a template."""
