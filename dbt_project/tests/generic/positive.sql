{#- Every non-null value of the column is strictly greater than zero. -#}
{% test positive(model, column_name) %}

select {{ column_name }} as failing_value
from {{ model }}
where {{ column_name }} <= 0

{% endtest %}
