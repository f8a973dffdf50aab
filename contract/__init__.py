"""What the gateway (Python 3.11) and the Rasa action server (Python 3.10) share.

Custom payloads with one codec (`payloads`), record shapes and Redis keys (`records`),
environment variable names (`env`), German normalisers (`german`), the strict knowledge
loader (`knowledge`, `town`) and the public-holiday calendar (`calendar`). Python 3.10
compatible and free of gateway and Rasa imports; installed into both environments.
"""
