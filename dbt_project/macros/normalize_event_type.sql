{#
    Producers may send 'View', ' Add_To_Cart', 'add to cart' or 'add-to-cart': trim, lower-case, and
    turn spaces and hyphens into underscores. Known synonyms map to the three event types; anything
    else passes through (and fails the accepted_values test, which is the signal we want).
#}
{% macro normalize_event_type(column) -%}
    {%- set cleaned -%}
        {{ dbt.replace(dbt.replace('lower(trim(' ~ column ~ '))', "'-'", "'_'"), "' '", "'_'") }}
    {%- endset -%}
    case {{ cleaned }}
        when 'addtocart' then 'add_to_cart'
        when 'cart' then 'add_to_cart'
        when 'page_view' then 'view'
        when 'pageview' then 'view'
        when 'order' then 'purchase'
        else {{ cleaned }}
    end
{%- endmacro %}
