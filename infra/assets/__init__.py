"""What infra deploys of training/ and functions/: the code assets, built from their folders by path.

infra imports nothing of training/ or functions/; these builders name their entry modules and ship the
closure of what those import (`imports`), never whole folders.
"""
