from django.conf import settings
from rest_framework.pagination import PageNumberPagination


class TicketPagination(PageNumberPagination):
    page_size = settings.API_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE
