"""LianaAutomation REST v1 (`/rest/v1/...`): translation between its wire and the core."""
