"""Entry module of the order service: ``faust -A app.orders worker``."""

from app.factory import create_orders_app
from app.settings import OrdersSettings

app = create_orders_app(OrdersSettings())
