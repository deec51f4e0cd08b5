"""Talking to batteries: driver protocol, Modbus TCP client, register maps, simulator.

Imports nothing from homeassistant.
"""
