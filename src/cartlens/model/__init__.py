"""Layer 1: the registry's entities and controlled vocabularies.

:mod:`cartlens.model.vocab` holds the controlled vocabularies, :mod:`cartlens.model.schema` the
declarative entity specifications (one file per entity), :mod:`cartlens.model.astct` the ASTCT
2019 CRS/ICANS grading from raw components.
"""

from cartlens.model.schema import ENTITIES, ENTITY_BY_NAME, EntitySpec, FieldSpec, entity

__all__ = ["ENTITIES", "ENTITY_BY_NAME", "EntitySpec", "FieldSpec", "entity"]
