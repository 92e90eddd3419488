"""The HTTP intake: thin Starlette endpoints over gridjobs.store and gridjobs.kinds."""
