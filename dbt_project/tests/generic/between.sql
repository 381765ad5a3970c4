{#- Every non-null value lies in [min_value, max_value] (rates in [0, 1], scores in [1, 5], ...). -#}
{% test between(model, column_name, min_value, max_value) %}

select {{ column_name }} as failing_value
from {{ model }}
where {{ column_name }} < {{ min_value }} or {{ column_name }} > {{ max_value }}

{% endtest %}
