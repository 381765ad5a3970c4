{#- Every non-null value has exactly `length` characters (ISO codes and the like). -#}
{% test exact_length(model, column_name, length) %}

select {{ column_name }} as failing_value
from {{ model }}
where {{ dbt.length(column_name) }} <> {{ length }}

{% endtest %}
