"""A GraphQL server reimplementing the bulk CSV import/export APIs of monday.com, Blue and Zoho."""
