"""Device key rotation, make before break: stage, verify, activate, confirm, retire."""
