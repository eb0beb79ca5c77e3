"""Entry module of the cart service: ``faust -A app.cart worker``."""

from app.factory import create_cart_app
from app.settings import CartSettings

app = create_cart_app(CartSettings())
