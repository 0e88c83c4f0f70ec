"""The state store: SQLAlchemy 2 models, repositories and Alembic migrations.

Every module that declares tables is imported here, so ``Base.metadata`` always holds the whole
schema (Alembic's autogenerate check and the tests compare it with the migrations).
"""

from sfsync.store import alerts as alerts  # alert_deliveries
from sfsync.store import disputes as disputes  # invoice_disputes, dispute_cases
from sfsync.store import escalations as escalations  # escalations
