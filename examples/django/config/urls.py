from django.urls import path
from jobs import views

urlpatterns = [
    path("jobs/<str:task>/bulk", views.queue_many),
    path("jobs/<str:name>", views.one),
    path("jobs", views.status_of_many),
    path("outbox/<str:task>", views.outbox),
]
