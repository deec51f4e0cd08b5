"""Remote schedule API: day-ahead series and measurement posting (docs/remote-api.md)."""
